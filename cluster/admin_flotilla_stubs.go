package cluster

// TEMPORARY: stand-ins for the membership operations that FLOTILLA NODE
// ADD/REMOVE call (admin_flotilla.go). They are implemented on the
// membership branch; this file goes away when it is merged.

import "errors"

var errNotImplemented = errors.New("not implemented yet")

// addNode adds the node gossiping at gossipAddr.
func (n *clusterNode) addNode(gossipAddr string) error { return errNotImplemented }

// removeNode drains and removes a node; it returns when the removal is
// queued.
func (n *clusterNode) removeNode(id string) error { return errNotImplemented }
