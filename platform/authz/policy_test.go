package authz

import (
	"slices"
	"testing"

	testpb "google.golang.org/grpc/interop/grpc_testing"
)

func TestPolicyMissing(t *testing.T) {
	p := Policy{
		testpb.TestService_EmptyCall_FullMethodName:           Public(),
		testpb.TestService_UnaryCall_FullMethodName:           Roles(RoleAdmin),
		testpb.TestService_StreamingOutputCall_FullMethodName: AnyMember(),
		"/grpc.testing.TestService/Typo":                      Internal(),
	}
	want := []string{
		testpb.TestService_CacheableUnaryCall_FullMethodName,
		testpb.TestService_FullDuplexCall_FullMethodName,
		testpb.TestService_HalfDuplexCall_FullMethodName,
		testpb.TestService_StreamingInputCall_FullMethodName,
		testpb.TestService_UnimplementedCall_FullMethodName,
	}
	if got := p.Missing(testpb.TestService_ServiceDesc); !slices.Equal(got, want) {
		t.Fatalf("Missing = %v\nwant %v", got, want)
	}
	for _, m := range want {
		p[m] = Internal()
	}
	if got := p.Missing(testpb.TestService_ServiceDesc); len(got) != 0 {
		t.Fatalf("Missing = %v, want none", got)
	}
}

func TestRuleConstructors(t *testing.T) {
	cases := []struct {
		rule Rule
		want string
	}{
		{Rule{}, "denied"},
		{Public(), "public"},
		{Internal(), "internal"},
		{Roles(RoleRecruiter, RoleAdmin, RoleRecruiter), "roles(admin,recruiter)"},
		{AtLeast(RoleRecruiter), "roles(super_admin,admin,recruiter)"},
		{AtLeast(RoleMember), AnyMember().String()},
		{AnyMember(), "roles(super_admin,admin,recruiter,hiring_manager,member)"},
	}
	for _, tc := range cases {
		if got := tc.rule.String(); got != tc.want {
			t.Errorf("rule = %s, want %s", got, tc.want)
		}
	}
}

func TestRulesPanicOnTypos(t *testing.T) {
	for name, f := range map[string]func(){
		"no roles":      func() { Roles() },
		"unknown role":  func() { Roles(RoleAdmin, "owner") },
		"unknown least": func() { AtLeast("Admin") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
