package stack

import (
	"net"
	"sync"
	"testing"
	"time"
)

// FaultProxy is a TCP proxy for putting faults between a process and a
// server (Postgres): it forwards both ways until told to hang, and then
// keeps accepting connections, old and new, but passes no byte either way,
// as a server that is up and never answers.
type FaultProxy struct {
	target string
	lis    net.Listener

	mu      sync.Mutex
	resumed chan struct{} // closed while forwarding; open while hung
	conns   map[net.Conn]struct{}
	timer   *time.Timer
	closed  bool
}

// NewFaultProxy listens on a free loopback port and forwards to target;
// everything is closed when the test ends.
func NewFaultProxy(t testing.TB, target string) *FaultProxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	open := make(chan struct{})
	close(open)
	p := &FaultProxy{target: target, lis: lis, resumed: open, conns: map[net.Conn]struct{}{}}
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr is where to connect instead of the target.
func (p *FaultProxy) Addr() string { return p.lis.Addr().String() }

// Hang stops forwarding until Resume, or until max has passed: a test that
// fails half-way cannot leave the processes hung for the rest of the run.
func (p *FaultProxy) Hang(max time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.resumed:
		p.resumed = make(chan struct{})
	default: // already hung
	}
	if p.timer != nil {
		p.timer.Stop()
	}
	p.timer = time.AfterFunc(max, p.Resume)
}

// Resume forwards again, including what arrived while hung.
func (p *FaultProxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.resumed:
	default:
		close(p.resumed)
	}
}

func (p *FaultProxy) accept() {
	for {
		c, err := p.lis.Accept()
		if err != nil {
			return
		}
		go p.serve(c)
	}
}

func (p *FaultProxy) serve(client net.Conn) {
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		_ = client.Close()
		return
	}
	if !p.track(client, server) {
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { p.pipe(server, client) })
	wg.Go(func() { p.pipe(client, server) })
	wg.Wait()
	p.untrack(client, server)
}

// pipe copies src to dst, holding every chunk while the proxy hangs.
func (p *FaultProxy) pipe(dst, src net.Conn) {
	defer func() { _ = dst.Close(); _ = src.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			resumed := p.resumed
			p.mu.Unlock()
			<-resumed
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF, or a connection closed by the other pipe
		}
	}
}

func (p *FaultProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		for _, c := range conns {
			_ = c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *FaultProxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		delete(p.conns, c)
	}
}

func (p *FaultProxy) close() {
	_ = p.lis.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		_ = c.Close()
	}
	if p.timer != nil {
		p.timer.Stop()
	}
	p.mu.Unlock()
	p.Resume() // lets held chunks fail on their closed connections
}
