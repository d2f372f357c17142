package migrations_test

import (
	"testing"

	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/services/atsbridge/migrations"
)

func TestMigrationsRoundTrip(t *testing.T) {
	t.Parallel()
	pgtest.MigrationsRoundTrip(t, migrations.FS)
}
