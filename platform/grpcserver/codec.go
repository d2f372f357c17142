package grpcserver

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// UndecodableMessage is all a client learns of a request that is not a valid
// message of its method's type.
const UndecodableMessage = "the request could not be decoded"

// requestCodec is the server's codec: protobuf, except that a request that
// does not decode is marked instead of failed. grpc-go turns a codec error
// into Internal with the library's text, before any interceptor runs; with
// the mark, the server's first interceptor (or RecvMsg, for streams)
// answers InvalidArgument with a fixed message instead.
type requestCodec struct {
	proto encoding.CodecV2
	// bad holds the messages whose decoding failed until the interceptor
	// that answers for them takes them out.
	bad sync.Map
}

func newRequestCodec() *requestCodec {
	return &requestCodec{proto: encoding.GetCodecV2(protocodec.Name)}
}

func (c *requestCodec) Name() string { return c.proto.Name() }

func (c *requestCodec) Marshal(v any) (mem.BufferSlice, error) { return c.proto.Marshal(v) }

func (c *requestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if err := c.proto.Unmarshal(data, v); err != nil {
		// The handler never sees what was half decoded.
		if m, ok := v.(proto.Message); ok {
			proto.Reset(m)
		}
		c.bad.Store(v, struct{}{})
	}
	return nil
}

// undecodable reports whether decoding m failed, and forgets it.
func (c *requestCodec) undecodable(m any) bool {
	_, ok := c.bad.LoadAndDelete(m)
	return ok
}

var errUndecodable = status.Error(codes.InvalidArgument, UndecodableMessage)

func (s *Server) unaryDecoded(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if s.codec.undecodable(req) {
		return nil, errUndecodable
	}
	return h(ctx, req)
}

type decodedStream struct {
	grpc.ServerStream
	codec *requestCodec
}

func (d decodedStream) RecvMsg(m any) error {
	if err := d.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if d.codec.undecodable(m) {
		return errUndecodable
	}
	return nil
}

func (s *Server) streamDecoded(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	return h(srv, decodedStream{ss, s.codec})
}
