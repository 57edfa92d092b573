package cluster

func init() {
	serverHandlers["config|get"] = cmdCONFIGGET
	serverHandlers["config|set"] = cmdCONFIGSET
	serverHandlers["config|resetstat"] = cmdCONFIGRESETSTAT
	serverHandlers["config|rewrite"] = cmdCONFIGREWRITE
	serverHandlers["config|help"] = cmdCONFIGHELP
}

func cmdCONFIGGET(c *conn, args [][]byte, inExec bool) {
	pats := make([]string, 0, len(args)-2)
	for _, a := range args[2:] {
		pats = append(pats, string(a))
	}
	pairs := c.s.cfg.Match(pats)
	c.w.WriteMap(len(pairs))
	for _, kv := range pairs {
		c.w.WriteBulkString(kv[0])
		c.w.WriteBulkString(kv[1])
	}
}

func cmdCONFIGSET(c *conn, args [][]byte, inExec bool) {
	if len(args)%2 != 0 {
		c.w.WriteError("ERR wrong number of arguments for 'config|set' command")
		return
	}
	var pairs [][2]string
	for i := 2; i+1 < len(args); i += 2 {
		pairs = append(pairs, [2]string{string(args[i]), string(args[i+1])})
	}
	if err := c.s.cfg.Set(pairs); err != nil {
		c.w.WriteError(err.Error())
		return
	}
	c.w.WriteOK()
}

func cmdCONFIGRESETSTAT(c *conn, args [][]byte, inExec bool) {
	c.s.resetStats()
	c.w.WriteOK()
}

func cmdCONFIGREWRITE(c *conn, args [][]byte, inExec bool) {
	if err := c.s.cfg.Rewrite(); err != nil {
		c.w.WriteError(err.Error())
		return
	}
	c.w.WriteOK()
}

func cmdCONFIGHELP(c *conn, args [][]byte, inExec bool) {
	writeHelp(c, "CONFIG", []string{
		"GET <pattern>",
		"    Return parameters matching the glob-like <pattern> and their values.",
		"SET <directive> <value>",
		"    Set the configuration <directive> to <value>.",
		"RESETSTAT",
		"    Reset statistics reported by the INFO command.",
		"REWRITE",
		"    Rewrite the configuration file.",
	})
}

// resetStats is CONFIG RESETSTAT: command, error and connection counters.
func (s *Server) resetStats() {
	for i := range s.stats.cmd {
		st := &s.stats.cmd[i]
		st.calls.Store(0)
		st.usec.Store(0)
		st.rejected.Store(0)
		st.failed.Store(0)
		s.stats.latency[i].reset()
	}
	s.stats.connsReceived.Store(0)
	s.stats.connsRejected.Store(0)
	s.stats.commands.Store(0)
	s.stats.netIn.Store(0)
	s.stats.netOut.Store(0)
	s.errors.reset()
	st := s.shard.DB().Stats()
	st.Hits.Store(0)
	st.Misses.Store(0)
	st.Expired.Store(0)
	st.Evicted.Store(0)
	s.peakMemory.Store(0)
}
