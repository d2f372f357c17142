package server

import (
	"errors"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/grpcserver"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

func ts(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

var linkKindToProto = map[string]outreachv1.LinkKind{
	"linkedin": outreachv1.LinkKind_LINK_KIND_LINKEDIN,
	"github":   outreachv1.LinkKind_LINK_KIND_GITHUB,
	"website":  outreachv1.LinkKind_LINK_KIND_WEBSITE,
	"other":    outreachv1.LinkKind_LINK_KIND_OTHER,
}

func linkKindFromProto(k outreachv1.LinkKind) string {
	for s, p := range linkKindToProto {
		if p == k {
			return s
		}
	}
	return "" // unspecified: the domain names the field
}

func candidateProto(c store.Candidate) *outreachv1.Candidate {
	out := &outreachv1.Candidate{
		Id: c.ID, Name: c.Name, Emails: c.Emails, Phone: c.Phone, Title: c.Title, Company: c.Company,
		Location: c.Location, TimeZone: c.TimeZone, Tags: c.Tags, Source: c.Source, OwnerUserId: c.OwnerUserID,
		CreateTime: timestamppb.New(c.CreatedAt), UpdateTime: timestamppb.New(c.UpdatedAt), DeleteTime: ts(c.DeletedAt),
		StageId: c.StageID, StageVersion: c.StageVersion, CustomFields: c.CustomFields,
	}
	for _, l := range c.Links {
		out.Links = append(out.Links, &outreachv1.Link{Kind: linkKindToProto[l.Kind], Url: l.URL})
	}
	return out
}

func candidateFromProto(c *outreachv1.Candidate) store.Candidate {
	out := store.Candidate{
		Name: c.GetName(), Emails: c.GetEmails(), Phone: c.GetPhone(), Title: c.GetTitle(), Company: c.GetCompany(),
		Location: c.GetLocation(), TimeZone: c.GetTimeZone(), Tags: c.GetTags(), Source: c.GetSource(), OwnerUserID: c.GetOwnerUserId(),
		CustomFields: c.GetCustomFields(),
	}
	for _, l := range c.GetLinks() {
		out.Links = append(out.Links, store.Link{Kind: linkKindFromProto(l.GetKind()), URL: l.GetUrl()})
	}
	return out
}

func orderFromProto(o outreachv1.CandidateOrder) store.Order {
	if o == outreachv1.CandidateOrder_CANDIDATE_ORDER_CREATE_TIME_DESC {
		return store.ByNewest
	}
	return store.ByName
}

// existsStatus is the status of an address another candidate has: the
// existing candidate's id travels in ErrorInfo's metadata too, so a client
// need not parse the message. Other errors pass.
func existsStatus(err error) error {
	var dup *store.DuplicateEmailError
	var ae *apperr.Error
	if !errors.As(err, &dup) || !errors.As(err, &ae) || ae.Kind != apperr.KindAlreadyExists {
		return err
	}
	st, derr := status.New(codes.AlreadyExists, ae.Public).WithDetails(&errdetails.ErrorInfo{
		Reason: ae.Reason, Domain: grpcserver.ErrorDomain, Metadata: map[string]string{"candidate_id": dup.CandidateID}})
	if derr != nil {
		return err
	}
	return st.Err()
}
