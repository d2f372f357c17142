package server

import (
	"context"

	"github.com/tandemhq/tandem/platform/authz"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

var fieldTypeToProto = map[string]outreachv1.CustomFieldType{
	"text":   outreachv1.CustomFieldType_CUSTOM_FIELD_TYPE_TEXT,
	"number": outreachv1.CustomFieldType_CUSTOM_FIELD_TYPE_NUMBER,
	"date":   outreachv1.CustomFieldType_CUSTOM_FIELD_TYPE_DATE,
	"url":    outreachv1.CustomFieldType_CUSTOM_FIELD_TYPE_URL,
	"choice": outreachv1.CustomFieldType_CUSTOM_FIELD_TYPE_CHOICE,
}

func fieldTypeFromProto(t outreachv1.CustomFieldType) string {
	for s, p := range fieldTypeToProto {
		if p == t {
			return s
		}
	}
	return "" // unspecified: the domain names the field
}

func definitionProto(d store.FieldDefinition) *outreachv1.CustomFieldDefinition {
	return &outreachv1.CustomFieldDefinition{Key: d.Key, DisplayName: d.DisplayName, Type: fieldTypeToProto[d.Type], Options: d.Options}
}

// CreateCustomFieldDefinition implements the RPC.
func (s *Server) CreateCustomFieldDefinition(ctx context.Context, req *outreachv1.CreateCustomFieldDefinitionRequest) (*outreachv1.CreateCustomFieldDefinitionResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	d := req.GetDefinition()
	def, err := s.d.CustomFields.Create(ctx, orgID, store.FieldDefinition{Key: d.GetKey(), DisplayName: d.GetDisplayName(),
		Type: fieldTypeFromProto(d.GetType()), Options: d.GetOptions()})
	if err != nil {
		return nil, err
	}
	return &outreachv1.CreateCustomFieldDefinitionResponse{Definition: definitionProto(def)}, nil
}

// ListCustomFieldDefinitions implements the RPC.
func (s *Server) ListCustomFieldDefinitions(ctx context.Context, _ *outreachv1.ListCustomFieldDefinitionsRequest) (*outreachv1.ListCustomFieldDefinitionsResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	defs, err := s.d.CustomFields.List(ctx, orgID)
	if err != nil {
		return nil, err
	}
	out := &outreachv1.ListCustomFieldDefinitionsResponse{}
	for _, d := range defs {
		out.Definitions = append(out.Definitions, definitionProto(d))
	}
	return out, nil
}
