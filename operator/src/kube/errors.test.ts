import { describe, expect, it } from "vitest";
import { ApiError, isNamespaceTerminating, isRefusedObject } from "./errors.ts";

const api = (status: number, message: string) => new ApiError(message, { code: "X", status });

describe("errors the API server gives for good", () => {
  it("an object it refuses: invalid, malformed, or a field server-side apply does not know", () => {
    expect(
      isRefusedObject(
        api(422, "Deployment.apps is invalid: spec.template.spec.containers[0].image: Required"),
      ),
    ).toBe(true);
    expect(isRefusedObject(api(400, "bad request"))).toBe(true);
    expect(
      isRefusedObject(
        api(
          500,
          "failed to create typed patch object (ns/x; apps/v1, Kind=Deployment): .spec.fuzz: field not declared in schema",
        ),
      ),
    ).toBe(true);
    expect(isRefusedObject(api(500, "etcdserver: request timed out"))).toBe(false);
    expect(isRefusedObject(api(409, "conflict"))).toBe(false);
    expect(isRefusedObject(new Error("socket hang up"))).toBe(false);
  });

  it("a namespace being deleted", () => {
    expect(
      isNamespaceTerminating(
        api(
          403,
          'services "chat" is forbidden: unable to create new content in namespace x because it is being terminated',
        ),
      ),
    ).toBe(true);
    expect(isNamespaceTerminating(api(403, 'services "chat" is forbidden: User "x" cannot patch'))).toBe(
      false,
    );
  });
});
