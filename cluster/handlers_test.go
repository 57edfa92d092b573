package cluster

import (
	"testing"

	"github.com/flotilla-db/flotilla/proto"
)

// TestEveryCommandHasAHandler keeps the command table (what COMMAND tells
// clients) and the implementations in step.
func TestEveryCommandHasAHandler(t *testing.T) {
	handlerTableOnce.Do(buildHandlerTable)
	for _, cmd := range proto.AllWithSubcommands() {
		if cmd.IsContainer() {
			continue
		}
		if handlersByID.server[cmd.ID] == nil && handlersByID.data[cmd.ID] == nil {
			t.Errorf("%s is in the command table but has no handler", cmd.Name)
		}
	}
}
