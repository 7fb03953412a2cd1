package ksefsim

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// specJSON is the official KSeF 2.0 OpenAPI document (MIT, see LICENSE-ksef-docs.txt next to it).
//
//go:embed open-api.json
var specJSON []byte

type specBundle struct {
	doc    *openapi3.T
	router routers.Router
}

var (
	specOnce   sync.Once
	specLoaded *specBundle
	specErr    error
)

// loadSpec parses the embedded spec once per process: it is 670 KB and takes a noticeable time to load.
func loadSpec() (*specBundle, error) {
	specOnce.Do(func() {
		openapi3filter.RegisterBodyDecoder("application/xml", func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
			b, err := io.ReadAll(body)
			return string(b), err
		})
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(specJSON)
		if err != nil {
			specErr = fmt.Errorf("load open-api.json: %w", err)
			return
		}
		// Route on paths only: the server URL in the spec names the TEST host.
		doc.Servers = openapi3.Servers{{URL: "/v2"}}
		if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation(), openapi3.DisableSchemaDefaultsValidation()); err != nil {
			specErr = fmt.Errorf("validate open-api.json: %w", err)
			return
		}
		r, err := gorillamux.NewRouter(doc)
		if err != nil {
			specErr = fmt.Errorf("router for open-api.json: %w", err)
			return
		}
		specLoaded = &specBundle{doc: doc, router: r}
	})
	return specLoaded, specErr
}

// errPathNotInSpec means the request path/method is not described by the spec.
var errPathNotInSpec = errors.New("path not in spec")

// validateRequest checks r against the spec; the body must already be buffered in r.Body (it is re-read).
// It returns the matched route (its Path is the template, e.g. "/sessions/{referenceNumber}").
func validateRequest(r *http.Request) (*routers.Route, map[string]string, error) {
	sb, err := loadSpec()
	if err != nil {
		return nil, nil, err
	}
	route, params, err := sb.router.FindRoute(r)
	if err != nil {
		return nil, nil, errPathNotInSpec
	}
	in := &openapi3filter.RequestValidationInput{
		Request:    r,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			MultiError:         false,
			AuthenticationFunc: bearerPresent,
		},
	}
	if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
		return route, params, err
	}
	return route, params, nil
}

// validateResponse checks one answer of the simulator against the response the spec documents for
// its operation and status: the content type, the body's schema (required fields, types, formats,
// enums) and the documented headers. A status the operation does not document is reported too.
func validateResponse(r *http.Request, route *routers.Route, params map[string]string, status int, header http.Header, body []byte) error {
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	in.SetBodyBytes(body)
	err := openapi3filter.ValidateResponse(r.Context(), in)
	if exceptionTimestamp(err) {
		return nil
	}
	return err
}

// exceptionTimestamp reports the one known disagreement between the spec's schema and KSeF's own
// bytes: ExceptionInfo.timestamp is "format: date-time", yet the spec's example (and KSeF) writes it
// without an offset ("timestamp": "2025-10-11T12:23:56.0154302", open-api.json, ExceptionResponse
// example). The simulator answers as KSeF does; nothing of ours reads that field.
func exceptionTimestamp(err error) bool {
	// the nullable allOf of "exception" nests the field's error in the object's error
	for err != nil {
		var se *openapi3.SchemaError
		if !errors.As(err, &se) {
			return false
		}
		if p := se.JSONPointer(); len(p) == 2 && p[0] == "exception" && p[1] == "timestamp" {
			return true
		}
		err = se.Origin
	}
	return false
}

func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header.Get("Authorization")
	if !strings.HasPrefix(h, "Bearer ") || len(strings.TrimSpace(h[len("Bearer "):])) == 0 {
		return errors.New("missing Bearer authorization")
	}
	return nil
}
