package cluster

// startMetrics serves /metrics on the metrics port (cluster mode). Stub
// until the metrics endpoint lands.
func (s *Server) startMetrics() error { return nil }

// stopMetrics stops the metrics endpoint.
func (s *Server) stopMetrics() {}
