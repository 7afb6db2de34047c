package backend

import (
	"errors"
	"fmt"
	"slices"
)

// Servers added and deleted while the backend serves (the runtime API's
// add server and del server, as HAProxy's dynamic servers). Each change
// publishes a new serverSet: Pick, on whichever loop, sees the old set or
// the new one, never a half-made one, and takes no lock it did not take
// before. A reload makes the backend afresh from the configuration, so
// these changes do not outlive their generation.

// Errors of AddServer and DelServer.
var (
	ErrServerExists = errors.New("the backend has a server of this name")
	ErrNoServer     = errors.New("no such server")
	ErrNoChecks     = errors.New("the backend has no active health checks")
	ErrNotInMaint   = errors.New("the server is not in maintenance")
	ErrServerBusy   = errors.New("the server has requests in flight")
)

// AddServer makes a server from sc and adds it after the others, in
// maintenance (SetReady puts it in service), numbered with the lowest id
// no server of the backend has. With check, the backend's active checks
// decide its health: it starts down, its checks suspended until
// CheckEnable (HAProxy's "enable health"). Without, it starts up, and a
// backend with active checks does not check it.
func (b *Backend) AddServer(sc ServerConfig, check bool) (*Server, error) {
	if check && b.check.Type == "" {
		return nil, ErrNoChecks
	}
	b.edit.Lock()
	defer b.edit.Unlock()
	set := b.set.Load()
	if set.byName[sc.Name] != nil {
		return nil, ErrServerExists
	}
	id := 1
	for slices.ContainsFunc(set.servers, func(s *Server) bool { return s.id == id }) {
		id++
	}
	s, err := b.newServer(sc, id)
	if err != nil {
		return nil, err
	}
	s.dynamic = true
	s.admin.Store(adminMaint)
	if check {
		s.checksOff = true
		s.health = 0
		s.hstate.Store(healthDown)
		s.full.Store(false)
	} else {
		s.noCheck = true
	}
	// Published under life, which Start holds while it starts the
	// checkers of the set it reads: the server gets one checker.
	b.life.Lock()
	defer b.life.Unlock()
	b.set.Store(newServerSet(append(slices.Clip(set.servers), s)))
	if check && b.started && b.ctx.Err() == nil {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.checkLoop(s, b.check.Interval)
		}()
	}
	return s, nil
}

// DelServer deletes the server called name and returns it. Like
// HAProxy's del server, it must be in maintenance with no request in
// flight (picked, or given to a request of the queue): from then on no
// pick can choose it. Its checks stop; the connections the loops keep
// idle to it are the caller's to close.
func (b *Backend) DelServer(name string) (*Server, error) {
	b.edit.Lock()
	defer b.edit.Unlock()
	set := b.set.Load()
	s := set.byName[name]
	if s == nil {
		return nil, ErrNoServer
	}
	if s.admin.Load() != adminMaint {
		return nil, ErrNotInMaint
	}
	// Under mu, as Pick counts a request on its server: none is counted
	// on s once the new set is out.
	b.mu.Lock()
	if n := s.active.Load(); n > 0 {
		b.mu.Unlock()
		return nil, fmt.Errorf("%w (%d)", ErrServerBusy, n)
	}
	b.set.Store(newServerSet(slices.DeleteFunc(slices.Clone(set.servers), func(x *Server) bool { return x == s })))
	b.mu.Unlock()
	close(s.removed)
	return s, nil
}
