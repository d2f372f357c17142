package vault

import "context"

// StoredCredentials opens what Redis holds for the connection, for tests
// to check what was kept.
func (v *Vault) StoredCredentials(ctx context.Context, orgID, connID string) (Credentials, error) {
	rec, err := v.load(ctx, orgID, connID)
	return rec.creds, err
}
