package openapi

// plainPaths documents the gateway's own HTTP routes, which are not gRPC
// methods and so are not in the generated document: health, readiness and
// the browser side of the OAuth flows.
func plainPaths() map[string]any {
	query := func(name, desc string, required bool) map[string]any {
		return map[string]any{"name": name, "in": "query", "type": "string", "required": required, "description": desc}
	}
	redirect := func(desc string) map[string]any {
		return map[string]any{"description": desc, "headers": map[string]any{"Location": map[string]any{"type": "string"}}}
	}
	errorResp := map[string]any{"description": "The flow cannot go on: the stable error shape, e.g. INVALID_ARGUMENT for a missing, unknown or used state, PERMISSION_DENIED for another browser's flow."}
	op := func(id, summary string, params []any, responses map[string]any) map[string]any {
		return map[string]any{"get": map[string]any{"operationId": id, "summary": summary, "tags": []string{"Gateway"}, "parameters": params, "responses": responses}}
	}
	return map[string]any{
		"/healthz": op("Healthz", "The gateway is up.", []any{}, map[string]any{"200": map[string]any{"description": "ok"}}),
		"/readyz": op("Readyz", "Every upstream service is SERVING.", []any{}, map[string]any{
			"200": map[string]any{"description": "ready; services lists each one's status"},
			"503": map[string]any{"description": "not_ready; not_serving names the services that are not SERVING"},
		}),
		"/oauth/microsoft/start": op("StartMicrosoftFlow", "Starts a Microsoft flow in this browser (binding cookie) and redirects to Microsoft.", []any{
			query("flow", `"sign_in" or "admin_consent" (the link an IT admin is sent)`, false),
			query("ticket", "one-time ticket from ConnectMailbox, instead of flow", false),
			query("login_hint", "pre-fills the account", false),
		}, map[string]any{"302": redirect("to Microsoft's authorize or admin-consent page"), "400": errorResp}),
		"/oauth/microsoft/callback": op("MicrosoftCallback", "Microsoft's redirect after sign-in or mailbox consent.", []any{
			query("state", "the flow's state", true), query("code", "authorization code", false),
			query("error", "OAuth error", false), query("error_description", "with the AADSTS code", false),
		}, map[string]any{"302": redirect("to the frontend's /auth/complete?code=<one-time code>"), "400": errorResp, "403": errorResp}),
		"/oauth/microsoft/adminconsent/callback": op("MicrosoftAdminConsentCallback", "Microsoft's redirect after an admin consent; the tenant is confirmed by the admin signing in.", []any{
			query("state", "the flow's state", true), query("admin_consent", "True", false), query("tenant", "claimed tenant; never trusted alone", false),
			query("scope", "granted scopes", false), query("error", "OAuth error", false), query("error_description", "with the AADSTS code", false),
		}, map[string]any{"302": redirect("to Microsoft for the admin's confirming sign-in"), "400": errorResp, "403": errorResp}),
		"/app/auth/complete": op("BuiltInOutcomePage", "Minimal page that shows a flow's outcome when no frontend is configured.", []any{
			query("code", "one-time code", true),
		}, map[string]any{"200": map[string]any{"description": "HTML page with the outcome"}, "400": map[string]any{"description": "HTML page with the error"}}),
	}
}
