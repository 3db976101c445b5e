import { match } from "../../router.ts";
import { DeploymentDetail } from "./DeploymentDetail.tsx";
import { RoostDetail } from "./RoostDetail.tsx";
import { RoostList } from "./RoostList.tsx";

/** The /roosts pages, loaded on first visit so the first page's script stays small. */
export function Roosts({ site, path }: { site: string; path: string }) {
  const deployment = match("/roosts/deployment/:id", path);
  if (deployment) return <DeploymentDetail site={site} id={deployment.id!} />;
  const roost = match("/roosts/:roost", path);
  if (roost) return <RoostDetail site={site} roost={roost.roost!} />;
  return <RoostList site={site} />;
}
