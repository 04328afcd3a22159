// Writing an object's status: server-side apply on its /status subresource, as field manager inferops,
// sending only the status. An object deleted meanwhile is not an error (there is nothing left to report on).
import type { KubeApi, KubeObject } from "./client.ts";
import { isNotFound, wrap } from "./errors.ts";
import { pathFor, type Resource } from "./resources.ts";

export async function applyStatus(
  client: Pick<KubeApi, "apply">,
  resource: Resource,
  obj: KubeObject,
  status: unknown,
): Promise<void> {
  const name = obj.metadata?.name;
  const namespace = resource.namespaced ? obj.metadata?.namespace : undefined;
  try {
    await client.apply(pathFor(resource, { namespace, name, subresource: "status" }), {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      metadata: namespace ? { name, namespace } : { name },
      status,
    });
  } catch (err) {
    if (isNotFound(err)) return;
    throw wrap(`writing status of ${resource.kind} ${namespace ? `${namespace}/` : ""}${name}`, err);
  }
}
