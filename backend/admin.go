package backend

// What the runtime socket and the stats page read of a server beyond
// Stats: its admin state and the details of its checks, as HAProxy's
// "show servers state" reports them.

// Admin states, as AdminState names them.
const (
	AdminReady = "ready"
	AdminDrain = "drain"
	AdminMaint = "maint"
)

// AdminState returns the server's admin state: AdminReady, AdminDrain or
// AdminMaint.
func (s *Server) AdminState() string {
	switch s.admin.Load() {
	case adminDrain:
		return AdminDrain
	case adminMaint:
		return AdminMaint
	}
	return AdminReady
}

// SetAdminState sets the admin state by its name (AdminState's); false
// for an unknown name.
func (s *Server) SetAdminState(state string) bool {
	switch state {
	case AdminReady:
		s.SetReady()
	case AdminDrain:
		s.SetDrain()
	case AdminMaint:
		s.SetMaint()
	default:
		return false
	}
	return true
}

// CheckState is the state of a server's health checking.
type CheckState struct {
	// Health counts as HAProxy's check_health: 0..Rise+Fall-1, up from
	// Rise on.
	Health, Rise, Fall int
	// Configured: the backend has active checks (its Type); Enabled:
	// they are not suspended (CheckDisable).
	Configured, Enabled bool
	// NoLB: up, but taking no new requests (CheckForceNoLB).
	NoLB bool
}

// CheckState returns the state of the server's health checking.
func (s *Server) CheckState() CheckState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return CheckState{
		Health: s.health, Rise: s.b.check.Rise, Fall: s.b.check.Fall,
		Configured: s.activeChecks(), Enabled: !s.checksOff, NoLB: s.nolb,
	}
}

// Algorithm returns the backend's balancing algorithm.
func (b *Backend) Algorithm() string { return b.algoName }
