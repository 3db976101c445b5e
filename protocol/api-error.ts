import * as z from "zod";

/** The body of every error answer of the hub's HTTP API; apart from the other bodies so the agent reads it alone. */
export const ApiError = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});
export type ApiError = z.infer<typeof ApiError>;
