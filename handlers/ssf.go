package handlers

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/authd/authd/models"
	"github.com/authd/authd/services"
)

// The SSF transmitter's paths (docs/API.md "Shared Signals").
const (
	ssfConfigPath = "/.well-known/ssf-configuration"
	ssfJWKSPath   = "/.well-known/ssf-jwks.json"
	ssfStreamPath = "/ssf/stream"
	ssfStatusPath = "/ssf/status"
	ssfVerifyPath = "/ssf/verify"
	ssfPollPath   = "/ssf/poll/"
)

// registerSSF adds the Shared Signals transmitter when it is configured:
// discovery and keys (public), stream management for receivers (their
// bearer token), and the receivers' administration (admins).
func registerSSF(r *gin.Engine, admin *gin.RouterGroup, ssf *services.SSF, mw Middleware) {
	if ssf == nil {
		return
	}
	r.GET(ssfConfigPath, ssfConfiguration(ssf))
	jwks := ssf.Key().JWKS()
	r.GET(ssfJWKSPath, func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=300")
		c.JSON(http.StatusOK, jwks)
	})
	g := r.Group("/ssf", chain(mw.NoStore, ssfReceiver(ssf))...)
	g.POST("/stream", createStream(ssf))
	g.GET("/stream", getStreams(ssf))
	g.PATCH("/stream", updateStream(ssf, false))
	g.PUT("/stream", updateStream(ssf, true))
	g.DELETE("/stream", deleteStream(ssf))
	g.GET("/status", getStreamStatus(ssf))
	g.POST("/status", setStreamStatus(ssf))
	g.POST("/verify", verifyStream(ssf))
	g.POST("/poll/:id", pollStream(ssf))

	admin.POST("/ssf/receivers", createReceiver(ssf))
	admin.GET("/ssf/receivers", listReceivers(ssf))
	admin.DELETE("/ssf/receivers/:id", deleteReceiver(ssf))
}

// chain is hs without the nil ones: a middleware the configuration turns
// off is nil in Middleware.
func chain(hs ...gin.HandlerFunc) []gin.HandlerFunc {
	out := make([]gin.HandlerFunc, 0, len(hs))
	for _, h := range hs {
		if h != nil {
			out = append(out, h)
		}
	}
	return out
}

func ssfConfiguration(ssf *services.SSF) gin.HandlerFunc {
	body := gin.H{
		"spec_version":               "1_0",
		"issuer":                     ssf.Config().Issuer,
		"jwks_uri":                   ssf.Endpoint(ssfJWKSPath),
		"delivery_methods_supported": ssf.DeliveryMethods(),
		"configuration_endpoint":     ssf.Endpoint(ssfStreamPath),
		"status_endpoint":            ssf.Endpoint(ssfStatusPath),
		"verification_endpoint":      ssf.Endpoint(ssfVerifyPath),
		"authorization_schemes":      []gin.H{{"spec_urn": "urn:ietf:rfc:6750"}},
		"default_subjects":           "ALL",
	}
	return func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=300")
		c.JSON(http.StatusOK, body)
	}
}

// ssfReceiverKey holds the authenticated receiver in the gin context.
const ssfReceiverKey = "authd.ssf_receiver"

// ssfReceiver authenticates a receiver by its bearer token.
func ssfReceiver(ssf *services.SSF) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		r, err := ssf.AuthenticateReceiver(c.Request.Context(), bearer(c))
		if err != nil {
			c.Header("WWW-Authenticate", `Bearer realm="ssf"`)
			return err
		}
		c.Set(ssfReceiverKey, r)
		return nil
	})
}

func receiver(c *gin.Context) *models.SSFReceiver {
	r, _ := c.MustGet(ssfReceiverKey).(*models.SSFReceiver)
	return r
}

// streamRequest is a stream configuration as a receiver sends it. The
// transmitter-supplied members are accepted and ignored (SSF 1.0 §8.1.1).
type streamRequest struct {
	StreamID        *string          `json:"stream_id"`
	Iss             json.RawMessage  `json:"iss"`
	Aud             json.RawMessage  `json:"aud"`
	EventsSupported json.RawMessage  `json:"events_supported"`
	EventsDelivered json.RawMessage  `json:"events_delivered"`
	MinVerification json.RawMessage  `json:"min_verification_interval"`
	EventsRequested *[]string        `json:"events_requested"`
	Delivery        *deliveryRequest `json:"delivery"`
	Description     *string          `json:"description"`
	Format          *string          `json:"format"`
}

type deliveryRequest struct {
	Method              string `json:"method"`
	EndpointURL         string `json:"endpoint_url"`
	AuthorizationHeader string `json:"authorization_header"`
}

func (r streamRequest) Valid() error    { return nil }
func (r streamRequest) stream() *string { return r.StreamID }

func (r streamRequest) input() services.StreamInput {
	in := services.StreamInput{Description: r.Description, EventsRequested: r.EventsRequested, Format: r.Format}
	if r.Delivery != nil {
		in.Delivery = &services.DeliveryInput{Method: r.Delivery.Method, EndpointURL: r.Delivery.EndpointURL,
			AuthorizationHeader: r.Delivery.AuthorizationHeader}
	}
	return in
}

// streamID parses a stream id of a body or query. An id that is not a UUID
// names no stream: 404.
func streamID(raw *string) (uuid.UUID, error) {
	if raw == nil || *raw == "" {
		return uuid.Nil, invalid("stream_id is required.")
	}
	id, err := uuid.Parse(*raw)
	if err != nil {
		return uuid.Nil, services.Errorf(services.CodeNotFound, "No such stream.")
	}
	return id, nil
}

func queryStreamID(c *gin.Context) (uuid.UUID, error) {
	v := c.Query("stream_id")
	return streamID(&v)
}

// queryStream is the calling receiver's stream named by ?stream_id=.
func queryStream(c *gin.Context, ssf *services.SSF) (services.Stream, error) {
	id, err := queryStreamID(c)
	if err != nil {
		return services.Stream{}, err
	}
	return ssf.Stream(c.Request.Context(), receiver(c), id)
}

// streamBody is a receiver's request body that names its stream.
type streamBody interface {
	validator
	stream() *string
}

// decodeStreamBody decodes a body that names a stream, and parses the id.
func decodeStreamBody[T streamBody](c *gin.Context) (T, uuid.UUID, error) {
	req, err := decode[T](c, false)
	if err != nil {
		return req, uuid.Nil, err
	}
	id, err := streamID(req.stream())
	return req, id, err
}

// streamResponse is a stream configuration (SSF 1.0 §8.1.1). The push
// authorization_header is never shown again.
type streamResponse struct {
	StreamID        string           `json:"stream_id"`
	Iss             string           `json:"iss"`
	Aud             string           `json:"aud"`
	EventsSupported []string         `json:"events_supported"`
	EventsRequested []string         `json:"events_requested"`
	EventsDelivered []string         `json:"events_delivered"`
	Delivery        deliveryResponse `json:"delivery"`
	Description     string           `json:"description,omitempty"`
	Format          string           `json:"format"`
}

type deliveryResponse struct {
	Method      string `json:"method"`
	EndpointURL string `json:"endpoint_url"`
}

func toStreamResponse(ssf *services.SSF, st services.Stream) streamResponse {
	d := deliveryResponse{Method: services.DeliveryPollURN, EndpointURL: ssf.Endpoint(ssfPollPath + st.ID.String())}
	if st.DeliveryMethod == models.SSFDeliveryPush {
		d = deliveryResponse{Method: services.DeliveryPushURN, EndpointURL: st.EndpointURL}
	}
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return streamResponse{StreamID: st.ID.String(), Iss: ssf.Config().Issuer, Aud: st.Audience,
		EventsSupported: services.SSFEventsSupported, EventsRequested: nonNil(st.Requested()),
		EventsDelivered: nonNil(st.Delivered()), Delivery: d, Description: st.Description, Format: st.SubjectFormat}
}

func createStream(ssf *services.SSF) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		req, err := decode[streamRequest](c, false)
		if err != nil {
			return err
		}
		st, err := ssf.CreateStream(c.Request.Context(), receiver(c), req.input())
		if err != nil {
			return err
		}
		c.JSON(http.StatusCreated, toStreamResponse(ssf, st))
		return nil
	})
}

// getStreams answers one stream with ?stream_id=, else all of the
// receiver's as an array.
func getStreams(ssf *services.SSF) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		if _, ok := c.GetQuery("stream_id"); ok {
			st, err := queryStream(c, ssf)
			if err != nil {
				return err
			}
			c.JSON(http.StatusOK, toStreamResponse(ssf, st))
			return nil
		}
		list, err := ssf.Streams(c.Request.Context(), receiver(c))
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, responses(list, func(st services.Stream) streamResponse { return toStreamResponse(ssf, st) }))
		return nil
	})
}

func updateStream(ssf *services.SSF, replace bool) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		req, id, err := decodeStreamBody[streamRequest](c)
		if err != nil {
			return err
		}
		st, err := ssf.UpdateStream(c.Request.Context(), receiver(c), id, req.input(), replace)
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, toStreamResponse(ssf, st))
		return nil
	})
}

func deleteStream(ssf *services.SSF) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		id, err := queryStreamID(c)
		if err != nil {
			return err
		}
		if err := ssf.DeleteStream(c.Request.Context(), receiver(c), id); err != nil {
			return err
		}
		c.Status(http.StatusNoContent)
		return nil
	})
}

type statusResponse struct {
	StreamID string `json:"stream_id"`
	Status   string `json:"status"`
	Reason   string `json:"reason,omitempty"`
}

func getStreamStatus(ssf *services.SSF) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		st, err := queryStream(c, ssf)
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, statusResponse{StreamID: st.ID.String(), Status: st.Status, Reason: st.StatusReason})
		return nil
	})
}

type statusRequest struct {
	StreamID *string `json:"stream_id"`
	Status   string  `json:"status"`
	Reason   string  `json:"reason"`
}

func (r statusRequest) Valid() error    { return nil }
func (r statusRequest) stream() *string { return r.StreamID }

func setStreamStatus(ssf *services.SSF) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		req, id, err := decodeStreamBody[statusRequest](c)
		if err != nil {
			return err
		}
		st, err := ssf.SetStatus(c.Request.Context(), receiver(c), id, req.Status, req.Reason)
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, statusResponse{StreamID: st.StreamID.String(), Status: st.Status, Reason: st.Reason})
		return nil
	})
}

type verifyRequest struct {
	StreamID *string `json:"stream_id"`
	State    string  `json:"state"`
}

func (r verifyRequest) Valid() error    { return nil }
func (r verifyRequest) stream() *string { return r.StreamID }

func verifyStream(ssf *services.SSF) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		req, id, err := decodeStreamBody[verifyRequest](c)
		if err != nil {
			return err
		}
		if err := ssf.Verify(c.Request.Context(), receiver(c), id, req.State); err != nil {
			return err
		}
		c.Status(http.StatusNoContent)
		return nil
	})
}

// pollRequest is an RFC 8936 §2.4 poll; its member names are the RFC's.
type pollRequest struct {
	Ack               []string                   `json:"ack"`
	SetErrs           map[string]json.RawMessage `json:"setErrs"`
	MaxEvents         *int                       `json:"maxEvents"`
	ReturnImmediately bool                       `json:"returnImmediately"`
}

func (r pollRequest) Valid() error { return nil }

func pollStream(ssf *services.SSF) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		id, err := uuidParam(c, "id")
		if err != nil {
			return err
		}
		req, err := decode[pollRequest](c, true)
		if err != nil {
			return err
		}
		errs := make([]string, 0, len(req.SetErrs))
		for jti := range req.SetErrs {
			errs = append(errs, jti)
		}
		res, err := ssf.Poll(c.Request.Context(), receiver(c), id, services.PollRequest{
			Ack: req.Ack, SetErrs: errs, MaxEvents: req.MaxEvents, ReturnImmediately: req.ReturnImmediately,
		})
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, gin.H{"sets": res.SETs, "moreAvailable": res.MoreAvailable})
		return nil
	})
}

type receiverRequest struct {
	Description string `json:"description"`
	Audience    string `json:"audience"`
}

func (r receiverRequest) Valid() error { return nil }

type receiverResponse struct {
	ID          string `json:"id"`
	Description string `json:"description"`
	Audience    string `json:"audience"`
	CreatedAt   string `json:"created_at"`
	Token       string `json:"token,omitempty"`
}

func toReceiverResponse(r models.SSFReceiver) receiverResponse {
	return receiverResponse{ID: r.ID.String(), Description: r.Description, Audience: r.Audience, CreatedAt: rfc3339(r.CreatedAt)}
}

func createReceiver(ssf *services.SSF) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		req, err := decode[receiverRequest](c, true)
		if err != nil {
			return err
		}
		created, err := ssf.CreateReceiver(c.Request.Context(), principal(c), req.Description, req.Audience)
		if err != nil {
			return err
		}
		out := toReceiverResponse(created.Receiver)
		out.Token = created.Token
		c.JSON(http.StatusCreated, out)
		return nil
	})
}

func listReceivers(ssf *services.SSF) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		list, err := ssf.Receivers(c.Request.Context())
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, gin.H{"receivers": responses(list, toReceiverResponse)})
		return nil
	})
}

func deleteReceiver(ssf *services.SSF) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		id, err := uuidParam(c, "id")
		if err != nil {
			return err
		}
		if err := ssf.DeleteReceiver(c.Request.Context(), principal(c), id); err != nil {
			return err
		}
		c.Status(http.StatusNoContent)
		return nil
	})
}
