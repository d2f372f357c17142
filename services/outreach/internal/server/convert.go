package server

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

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
