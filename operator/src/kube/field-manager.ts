// The operator's server-side-apply field manager unless --field-manager names another. A module of its own so
// that flag parsing (config.ts, loaded by every CLI command) reads it without loading the API client.
export const FIELD_MANAGER = "inferops";
