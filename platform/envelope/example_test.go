package envelope_test

import (
	"context"
	"fmt"

	"github.com/tandemhq/tandem/platform/envelope"
)

func Example() {
	// From configuration, e.g. TANDEM_KEKS and TANDEM_PRIMARY_KEK. An
	// all-zero key, for this example only: generate real ones with
	// `openssl rand -base64 32`.
	ring, err := envelope.ParseKeyRing("k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "k1")
	if err != nil {
		panic(err)
	}
	vault := envelope.NewVault(ring, envelope.NewMemoryKeyStore(), envelope.VaultOptions{})

	ctx := context.Background()
	sealed, err := vault.Seal(ctx, "org_1", []byte("refresh-token"), "conn_7", "refresh_token")
	if err != nil {
		panic(err)
	}
	plain, err := vault.Open(ctx, "org_1", sealed, "conn_7", "refresh_token")
	if err != nil {
		panic(err)
	}
	_, err = vault.Open(ctx, "org_1", sealed, "conn_8", "refresh_token")
	fmt.Println(string(plain), err)
	// Output: refresh-token envelope: decryption failed: value altered or opened with other bindings
}
