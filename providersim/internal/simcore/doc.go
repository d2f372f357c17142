// Package simcore holds what every simulated provider shares: the controllable
// clock, seeded identifier streams, fault injection, call counters and the small
// HTTP helpers the control API uses.
package simcore
