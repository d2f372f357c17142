package simcore

import (
	"context"
	"testing"
	"time"

	"github.com/tandemhq/tandem/providersim/simclient"
)

func TestClockAdvancesAndResets(t *testing.T) {
	c := NewClock()
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c.real = func() time.Time { return base }
	if got := c.Now(); !got.Equal(base) {
		t.Fatalf("now %v", got)
	}
	c.Advance(10 * time.Minute)
	c.Advance(-time.Hour) // ignored
	if got := c.Now(); !got.Equal(base.Add(10 * time.Minute)) {
		t.Errorf("after advance %v", got)
	}
	c.Reset()
	if c.Offset() != 0 {
		t.Errorf("offset after reset %v", c.Offset())
	}
}

func TestIDsAreSeededPerStream(t *testing.T) {
	a, b := NewIDs(1), NewIDs(1)
	a.GUID("noise") // drawing from one stream does not shift another
	if x, y := a.GUID("tenant"), b.GUID("tenant"); x != y {
		t.Errorf("same seed, different GUIDs: %s %s", x, y)
	}
	if NewIDs(2).GUID("tenant") == NewIDs(1).GUID("tenant") {
		t.Error("different seeds, same GUID")
	}
	g := a.GUID("x")
	if len(g) != 36 || g[14] != '4' {
		t.Errorf("GUID %q", g)
	}
	first := b.Token("t", 8)
	b.Reset()
	if b.Token("t", 8) != first {
		t.Error("reset does not restart streams")
	}
}

func TestFaultsMatchCountAndRelease(t *testing.T) {
	ctx := t.Context()
	f := NewFaults(NewIDs(1))
	f.Add(simclient.Fault{Endpoint: "graph.sendMail", Mailbox: "a@x.example", Status: 429, Count: 2})
	f.Add(simclient.Fault{Endpoint: "microsoft.*", Status: 503})
	if got := f.Apply(ctx, "graph.sendMail", "b@x.example"); got != nil {
		t.Errorf("other mailbox hit %+v", got)
	}
	for i := range 2 {
		if got := f.Apply(ctx, "graph.sendMail", "A@x.example"); got == nil || got.Status != 429 {
			t.Errorf("hit %d: %+v", i, got)
		}
	}
	if got := f.Apply(ctx, "graph.sendMail", "a@x.example"); got != nil {
		t.Errorf("used-up fault still applies: %+v", got)
	}
	if got := f.Apply(ctx, "microsoft.token", ""); got == nil || got.Status != 503 {
		t.Errorf("wildcard: %+v", got)
	}
	if got := f.Apply(ctx, "graphx.token", ""); got != nil {
		t.Errorf("unrelated endpoint hit: %+v", got)
	}

	stall := f.Add(simclient.Fault{Endpoint: "*", Stall: true, Count: 1})
	done := make(chan *simclient.Fault)
	go func() { done <- f.Apply(ctx, "graph.getMessage", "") }()
	// The stalled call returns only once the fault is removed.
	deadline := time.Now().Add(5 * time.Second)
	for {
		list := f.List()
		if len(list) == 2 && list[1].Remaining == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("stall never taken")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case <-done:
		t.Fatal("stalled call returned before release")
	default:
	}
	if !f.Remove(stall.ID) {
		t.Fatal("remove failed")
	}
	if got := <-done; got != nil {
		t.Errorf("stall without status returned %+v", got)
	}

	f.Add(simclient.Fault{Endpoint: "*", LatencyMs: 60_000})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if got := f.Apply(cctx, "graph.x", ""); got != nil {
		t.Errorf("latency fault returned %+v", got)
	}
	f.Reset()
	if len(f.List()) != 0 {
		t.Error("reset left faults")
	}
}

func TestFormatSecondsAndParseDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		2128 * time.Millisecond: "2.128",
		time.Minute:             "60",
		0:                       "0.001",
		1500 * time.Microsecond: "0.002",
	} {
		if got := FormatSeconds(d); got != want {
			t.Errorf("FormatSeconds(%v) = %s, want %s", d, got, want)
		}
	}
	for in, want := range map[string]time.Duration{"600": 10 * time.Minute, "1.5": 1500 * time.Millisecond, "10m": 10 * time.Minute} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseDuration("soon"); err == nil {
		t.Error("ParseDuration accepted nonsense")
	}
}

func TestCounters(t *testing.T) {
	c := NewCounters()
	c.Inc("a.x", "a.y", "b")
	c.Add("a.x", 2)
	if got := c.Snapshot("a."); len(got) != 2 || got["a.x"] != 3 {
		t.Errorf("snapshot %v", got)
	}
	c.Reset()
	if c.Get("a.x") != 0 {
		t.Error("reset")
	}
}
