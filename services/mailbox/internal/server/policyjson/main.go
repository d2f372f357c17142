// Command policyjson prints the mailbox service's authz.Policy as JSON, each full
// method name with its rule. `make proto` gives it to tools/openapigen, which
// derives every REST operation's security from it: the policy is the one
// place that says who may call an RPC.
package main

import (
	"fmt"
	"os"

	"github.com/tandemhq/tandem/services/mailbox/internal/server"
)

func main() {
	if err := server.Policy.WriteJSON(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "policyjson:", err)
		os.Exit(1)
	}
}
