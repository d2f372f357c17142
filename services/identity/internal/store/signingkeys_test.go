package store_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/tandemhq/tandem/services/identity/internal/store"
)

func TestAddSigningKeyIfNone_OneOfManyReplicasWins(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := ctxTimeout(t)

	const n = 8
	added := make([]bool, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			added[i], errs[i] = st.AddSigningKeyIfNone(ctx, store.SigningKeyRecord{
				ID: fmt.Sprintf("sk-%d", i), SealedPrivateKey: fmt.Sprintf("sealed-%d", i), PublicKey: []byte{byte(i)},
			})
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		if added[i] {
			if winner >= 0 {
				t.Fatalf("replicas %d and %d both added a key", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no replica added a key")
	}
	keys, err := st.SigningKeys(ctx)
	if err != nil || len(keys) != 1 {
		t.Fatalf("SigningKeys: %+v, %v; want one", keys, err)
	}
	k := keys[0]
	if k.ID != fmt.Sprintf("sk-%d", winner) || k.SealedPrivateKey != fmt.Sprintf("sealed-%d", winner) || len(k.PublicKey) != 1 || k.PublicKey[0] != byte(winner) || k.RetiredAt != nil {
		t.Fatalf("stored key %+v is not the winner's (%d)", k, winner)
	}

	// Later starts add nothing.
	if ok, err := st.AddSigningKeyIfNone(ctx, store.SigningKeyRecord{ID: "sk-late", SealedPrivateKey: "s", PublicKey: []byte{1}}); err != nil || ok {
		t.Fatalf("a later replica: added %v, %v", ok, err)
	}
}
