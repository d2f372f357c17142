package server

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/authz"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/jobs"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

var jobStatusToProto = map[string]outreachv1.JobStatus{
	store.JobOpen:   outreachv1.JobStatus_JOB_STATUS_OPEN,
	store.JobClosed: outreachv1.JobStatus_JOB_STATUS_CLOSED,
	store.JobDraft:  outreachv1.JobStatus_JOB_STATUS_DRAFT,
}

var jobSourceToProto = map[string]outreachv1.JobSource{
	"ashby": outreachv1.JobSource_JOB_SOURCE_ASHBY,
	"lever": outreachv1.JobSource_JOB_SOURCE_LEVER,
}

func jobStatusFromProto(s outreachv1.JobStatus) string {
	return enumName(jobStatusToProto, s, outreachv1.JobStatus_JOB_STATUS_UNSPECIFIED, outreachv1.JobStatus.String)
}

func jobProto(j store.Job) *outreachv1.Job {
	return &outreachv1.Job{Id: j.ID, Title: j.Title, Department: j.Department, Team: j.Team, Location: j.Location,
		Status: jobStatusToProto[j.Status], ExternalSource: jobSourceToProto[j.ExternalSource], ExternalId: j.ExternalID,
		CreateTime: timestamppb.New(j.CreatedAt), UpdateTime: timestamppb.New(j.UpdatedAt), CreateUserId: j.CreateUserID}
}

func jobFromProto(j *outreachv1.Job) store.Job {
	return store.Job{Title: j.GetTitle(), Department: j.GetDepartment(), Team: j.GetTeam(), Location: j.GetLocation(),
		Status: jobStatusFromProto(j.GetStatus()), ExternalSource: enumName(jobSourceToProto, j.GetExternalSource(), outreachv1.JobSource_JOB_SOURCE_UNSPECIFIED, outreachv1.JobSource.String), ExternalID: j.GetExternalId()}
}

// CreateJob implements the RPC.
func (s *Server) CreateJob(ctx context.Context, req *outreachv1.CreateJobRequest) (*outreachv1.CreateJobResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	j, err := s.d.Jobs.Create(ctx, p, jobFromProto(req.GetJob()))
	if err != nil {
		return nil, err
	}
	return &outreachv1.CreateJobResponse{Job: jobProto(j)}, nil
}

// GetJob implements the RPC.
func (s *Server) GetJob(ctx context.Context, req *outreachv1.GetJobRequest) (*outreachv1.GetJobResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	j, err := s.d.Jobs.Get(ctx, p, req.GetJobId())
	if err != nil {
		return nil, mapErr(err, "job")
	}
	return &outreachv1.GetJobResponse{Job: jobProto(j)}, nil
}

// UpdateJob implements the RPC.
func (s *Server) UpdateJob(ctx context.Context, req *outreachv1.UpdateJobRequest) (*outreachv1.UpdateJobResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	j, err := s.d.Jobs.Update(ctx, p, req.GetJob().GetId(), jobFromProto(req.GetJob()), req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, mapErr(err, "job")
	}
	return &outreachv1.UpdateJobResponse{Job: jobProto(j)}, nil
}

// ListJobs implements the RPC.
func (s *Server) ListJobs(ctx context.Context, req *outreachv1.ListJobsRequest) (*outreachv1.ListJobsResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	page, err := s.d.Jobs.List(ctx, p, jobs.Query{Status: jobStatusFromProto(req.GetStatus()), PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken()})
	if err != nil {
		return nil, err
	}
	out := &outreachv1.ListJobsResponse{NextPageToken: page.NextPageToken}
	for _, j := range page.Jobs {
		out.Jobs = append(out.Jobs, jobProto(j))
	}
	return out, nil
}

// CloseJob implements the RPC.
func (s *Server) CloseJob(ctx context.Context, req *outreachv1.CloseJobRequest) (*outreachv1.CloseJobResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	j, err := s.d.Jobs.Close(ctx, p, req.GetJobId())
	if err != nil {
		return nil, mapErr(err, "job")
	}
	return &outreachv1.CloseJobResponse{Job: jobProto(j)}, nil
}
