package server

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/authz"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/conversations"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
	"github.com/tandemhq/tandem/services/outreach/internal/timeline"
)

var kindToProto = map[string]outreachv1.TimelineKind{
	store.KindCreated:      outreachv1.TimelineKind_TIMELINE_KIND_CREATED,
	store.KindMerged:       outreachv1.TimelineKind_TIMELINE_KIND_MERGED,
	store.KindStageChanged: outreachv1.TimelineKind_TIMELINE_KIND_STAGE_CHANGED,
	store.KindNote:         outreachv1.TimelineKind_TIMELINE_KIND_NOTE,

	store.KindReferralCreated: outreachv1.TimelineKind_TIMELINE_KIND_REFERRAL_CREATED,
	store.KindMessageSent:     outreachv1.TimelineKind_TIMELINE_KIND_MESSAGE_SENT,
	store.KindMessageReceived: outreachv1.TimelineKind_TIMELINE_KIND_MESSAGE_RECEIVED,
	store.KindFileAdded:       outreachv1.TimelineKind_TIMELINE_KIND_FILE_ADDED,
	store.KindFileDeleted:     outreachv1.TimelineKind_TIMELINE_KIND_FILE_DELETED,
	timeline.KindATSSync:      outreachv1.TimelineKind_TIMELINE_KIND_ATS_SYNC,
}

var sourceToProto = map[string]outreachv1.StageChangeSource{
	"user": outreachv1.StageChangeSource_STAGE_CHANGE_SOURCE_USER,
	"ats":  outreachv1.StageChangeSource_STAGE_CHANGE_SOURCE_ATS,
}

func kindFromProto(k outreachv1.TimelineKind) string {
	for s, p := range kindToProto {
		if p == k {
			return s
		}
	}
	return k.String() // not a kind: the domain names the field
}

func entryProto(e timeline.Entry) *outreachv1.TimelineEntry {
	out := &outreachv1.TimelineEntry{Id: e.ID, CandidateId: e.CandidateID, Kind: kindToProto[e.Kind], ActorUserId: e.ActorUserID,
		OccurTime: timestamppb.New(e.OccurredAt)}
	d := e.Detail
	switch e.Kind {
	case timeline.KindATSSync:
		a := e.Sync
		out.Detail = &outreachv1.TimelineEntry_AtsSync{AtsSync: &outreachv1.AtsSyncDecision{AuditId: a.GetId(), ConnectionId: a.GetConnectionId(),
			Direction: a.GetDirection(), Action: a.GetAction(), Outcome: a.GetOutcome(), Attempt: a.GetAttempt(), MappingVersion: a.GetMappingVersion(),
			Rule: a.GetRule(), Error: a.GetError(), TriggerType: a.GetTriggerType(), OperationId: a.GetOperationId(), ActorRemoteId: a.GetActorRemoteId()}}
	case store.KindStageChanged:
		out.Detail = &outreachv1.TimelineEntry_StageChange{StageChange: &outreachv1.StageChange{
			FromStageId: d["from_stage_id"], FromStageName: d["from_stage_name"], ToStageId: d["to_stage_id"], ToStageName: d["to_stage_name"],
			Reason: d["reason"], Source: sourceToProto[d["source"]]}}
	case store.KindMerged:
		out.Detail = &outreachv1.TimelineEntry_Merge{Merge: &outreachv1.Merge{SurvivorId: d["survivor_id"], MergedId: d["merged_id"]}}
	case store.KindNote:
		out.Detail = &outreachv1.TimelineEntry_Note{Note: &outreachv1.NoteAdded{NoteId: d["note_id"], Visibility: visibilityToProto(d["visibility"] == "private")}}
	case store.KindReferralCreated:
		out.Detail = &outreachv1.TimelineEntry_Referral{Referral: &outreachv1.ReferralAdded{ReferralId: d["referral_id"], JobId: d["job_id"],
			JobTitle: d["job_title"], ReferrerUserId: d["referrer_user_id"]}}
	case store.KindMessageSent, store.KindMessageReceived:
		out.Detail = &outreachv1.TimelineEntry_Message{Message: &outreachv1.MessageLogged{ConversationId: d["conversation_id"], MessageId: d["message_id"],
			Kind: conversations.KindToProto[d["message_kind"]]}}
	case store.KindFileAdded, store.KindFileDeleted:
		out.Detail = &outreachv1.TimelineEntry_File{File: &outreachv1.FileChange{FileId: d["file_id"], Filename: d["name"],
			Kind: fileKindToProto[d["kind"]], ContentType: d["content_type"], Sha256: d["sha256"]}}
	}
	return out
}

// ListTimeline implements the RPC.
func (s *Server) ListTimeline(ctx context.Context, req *outreachv1.ListTimelineRequest) (*outreachv1.ListTimelineResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	q := timeline.Query{CandidateID: req.GetCandidateId(), PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken()}
	for _, k := range req.GetKinds() {
		q.Kinds = append(q.Kinds, kindFromProto(k))
	}
	page, err := s.d.Timeline.List(ctx, p, q)
	if err != nil {
		return nil, mapErr(err, "candidate")
	}
	out := &outreachv1.ListTimelineResponse{NextPageToken: page.NextPageToken, AtsSyncUnavailable: page.SyncUnavailable}
	for _, e := range page.Entries {
		out.Entries = append(out.Entries, entryProto(e))
	}
	return out, nil
}
