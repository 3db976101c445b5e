import { chunkKey } from "../../durable-objects/site-hub/roost-keys.ts";
import { CommitRequest, MissingChunksRequest, type ChunkUploadResponse, type MissingChunksResponse } from "../../protocol/roost-api.ts";
import { ChunkHash, MAX_MANIFEST_BYTES, ROOST_CHUNK_BYTES, RoostName } from "../../protocol/roost-manifest.ts";
import { receiveChunk } from "../http/chunk-upload.ts";
import { apiError, respond } from "../http/api-error.ts";
import { parseBody, parseParam } from "../http/validate.ts";
import { actorOf, siteHub, type SiteRoute } from "./site-context.ts";

/**
 * Pushing a version: ask which chunks the site lacks, upload those (each verified against its hash as it arrives,
 * stored once per site), then commit the manifest, which the hub accepts only when every chunk it names is there.
 */
export const roostPushRoutes: SiteRoute[] = [
  {
    method: "post",
    path: "/roost/chunks/missing",
    permission: "roost.push",
    handler: async (c) => {
      const body = await parseBody(c, MissingChunksRequest);
      if (!body.ok) return body.response;
      const missing = await siteHub(c).roostMissing(body.value.hashes);
      return c.json({ missing } satisfies MissingChunksResponse);
    },
  },
  {
    method: "put",
    path: "/roost/chunks/:hash",
    permission: "roost.push",
    maxBodyBytes: ROOST_CHUNK_BYTES,
    handler: async (c) => {
      const hash = parseParam(c, ChunkHash, "hash");
      if (!hash.ok) return hash.response;
      const hub = siteHub(c);
      const received = await receiveChunk(c.req.raw.body, hash.value, ROOST_CHUNK_BYTES);
      if (!received.ok) return apiError(c, received.status, received.code, received.message);
      const size = received.bytes.byteLength;
      if (await hub.roostHasChunk(hash.value)) return c.json({ hash: hash.value, size, stored: false } satisfies ChunkUploadResponse);
      // R2 checks the hash too, so even a bug between here and there cannot store bytes under the wrong name.
      await c.env.ROOST.put(chunkKey(c.get("site"), hash.value), received.bytes, { sha256: hash.value });
      await hub.roostRecordChunk(hash.value, size);
      return c.json({ hash: hash.value, size, stored: true } satisfies ChunkUploadResponse, 201);
    },
  },
  {
    method: "post",
    path: "/roosts/:roost/versions",
    permission: "roost.push",
    maxBodyBytes: MAX_MANIFEST_BYTES,
    handler: async (c) => {
      const roost = parseParam(c, RoostName, "roost");
      if (!roost.ok) return roost.response;
      const body = await parseBody(c, CommitRequest);
      if (!body.ok) return body.response;
      return respond(c, await siteHub(c).roostCommit(c.get("site"), roost.value, body.value, actorOf(c)), 201);
    },
  },
];
