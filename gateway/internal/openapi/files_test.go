package openapi

import (
	"maps"
	"slices"
	"testing"
)

// The upload route's answer is written by hand in the fragment (the RPC
// streams, so nothing is generated for it); it must stay the generated
// CandidateFile, field for field and enum for enum.
func TestUploadAnswerIsTheCandidateFile(t *testing.T) {
	doc := load(t)
	hand := doc.Components.Schemas["UploadCandidateFileResponse"].Properties["file"]
	gen, ok := doc.Components.Schemas["CandidateFile"]
	if !ok || len(hand.Properties) == 0 {
		t.Fatalf("CandidateFile %v, the fragment's file %v", ok, hand)
	}
	if h, g := slices.Sorted(maps.Keys(hand.Properties)), slices.Sorted(maps.Keys(gen.Properties)); !slices.Equal(h, g) {
		t.Fatalf("the fragment's file has %v, CandidateFile %v", h, g)
	}
	kind := doc.Components.Schemas["CandidateFileKind"]
	if !slices.Equal(hand.Properties["kind"].Enum, kind.Enum) {
		t.Fatalf("kind: %v, CandidateFileKind %v", hand.Properties["kind"].Enum, kind.Enum)
	}
}
