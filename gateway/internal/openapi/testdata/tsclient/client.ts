// A small frontend program against the generated contract: `make contract`
// generates generated/tandem.ts from tandem.openapi.json and compiles this
// with tsc --strict. A change to the document that breaks such a client
// (a renamed path, parameter or field, an error shape that changed) fails
// the build.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./generated/tandem";

type Schemas = components["schemas"];
type ApiError = Schemas["Error"];

export function tandemClient(baseUrl: string, accessToken: () => string | undefined) {
  const client = createClient<paths>({ baseUrl });
  const auth: Middleware = {
    onRequest({ request }) {
      const token = accessToken();
      if (token) {
        request.headers.set("Authorization", `Bearer ${token}`);
      }
      return request;
    },
  };
  client.use(auth);
  return client;
}

type Client = ReturnType<typeof tandemClient>;

// A public call: redeem the one-time code the OAuth callback redirected with.
// Objects and timestamps that are not set come back as null.
export async function signIn(client: Client, code: string): Promise<Schemas["Session"] | null> {
  const { data, error } = await client.POST("/v1/sessions:exchange", { body: { code } });
  if (error) {
    throw new Error(describe(error));
  }
  return data.outcome === "signed_in" ? (data.session ?? null) : null;
}

// A read.
export async function whoAmI(client: Client): Promise<string> {
  const { data, error } = await client.GET("/v1/me");
  if (error) {
    throw new Error(describe(error));
  }
  const role: Schemas["Role"] | undefined = data.user?.role;
  return `${data.user?.displayName ?? ""} <${data.user?.email ?? ""}> (${role ?? "ROLE_UNSPECIFIED"}) at ${data.organization?.displayName ?? ""}`;
}

// An update with a field mask: only display_name changes.
export async function renameOrganization(client: Client, displayName: string): Promise<Schemas["Organization"] | null> {
  const { data, error } = await client.PATCH("/v1/organization", {
    params: { query: { updateMask: "display_name" } },
    body: { displayName },
  });
  if (error) {
    throw new Error(describe(error));
  }
  return data.organization ?? null;
}

// The error branch: a role change the caller may not make, or that would
// leave the organization without a Super Admin, comes back typed.
export type RoleChange =
  | { ok: true; user: Schemas["User"] | null }
  | { ok: false; status: ApiError["error"]["status"]; fields: Record<string, string>; reason?: string };

export async function changeRole(client: Client, userId: string, role: Schemas["Role"]): Promise<RoleChange> {
  const { data, error, response } = await client.PATCH("/v1/users/{userId}", {
    params: { path: { userId }, query: { updateMask: "role" } },
    body: { role },
  });
  if (error) {
    const fields: Record<string, string> = {};
    for (const v of error.error.fields ?? []) {
      fields[v.field] = v.description;
    }
    if (response.status === 403 && error.error.status !== "PERMISSION_DENIED") {
      throw new Error(`unexpected ${error.error.status} with 403`);
    }
    return { ok: false, status: error.error.status, fields, reason: error.error.reason };
  }
  return { ok: true, user: data.user ?? null };
}

function describe(e: ApiError): string {
  const d = e.error;
  const fields = (d.fields ?? []).map((f) => `${f.field}: ${f.description}`).join("; ");
  return `${d.code} ${d.status}: ${d.message}${fields ? ` (${fields})` : ""}${d.trace_id ? ` [trace ${d.trace_id}]` : ""}`;
}
