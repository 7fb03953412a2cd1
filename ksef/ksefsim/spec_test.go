package ksefsim

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestValidateResponse checks the checker behind Options.CheckResponses: it accepts KSeF's
// documented bytes (open-api.json's examples) and refuses answers the spec does not describe.
func TestValidateResponse(t *testing.T) {
	const challenge = `{"challenge": "20250514-CR-226FB7B000-3ACF9BE4C0-10", "timestamp": "2025-07-11T12:23:56.0154302+00:00", "timestampMs": 1752236636015, "clientIp": "127.0.0.1"}`
	jsonType := http.Header{"Content-Type": {"application/json"}}
	tests := []struct {
		name   string
		path   string
		status int
		header http.Header
		body   string
		ok     bool
	}{
		{name: "the spec's example", path: "/v2/auth/challenge", status: 200, header: jsonType, body: challenge, ok: true},
		{
			// open-api.json, ExceptionResponse example: "timestamp": "2025-10-11T12:23:56.0154302", no
			// offset, against its own "format: date-time"; KSeF answers so, and so does the simulator.
			name: "ExceptionResponse as the spec's example writes it", path: "/v2/auth/challenge", status: 400, header: jsonType, ok: true,
			body: `{"exception": {"exceptionDetailList": [{"exceptionCode": 12345, "exceptionDescription": "Opis błędu.", "details": ["Opcjonalne dodatkowe szczegóły błędu."]}], "referenceNumber": "a1b2c3d4-e5f6-4789-ab12-cd34ef567890", "serviceCode": "00-c02cc3747020c605be02159bf3324f0e-eee7647dc67aa74a-00", "serviceCtx": "srvABCDA", "serviceName": "Undefined", "timestamp": "2025-10-11T12:23:56.0154302"}}`,
		},
		{name: "required field missing", path: "/v2/auth/challenge", status: 200, header: jsonType, body: `{"challenge": "20250514-CR-226FB7B000-3ACF9BE4C0-10", "timestamp": "2025-07-11T12:23:56.0154302+00:00", "clientIp": "127.0.0.1"}`},
		{name: "number as a string", path: "/v2/auth/challenge", status: 200, header: jsonType, body: `{"challenge": "20250514-CR-226FB7B000-3ACF9BE4C0-10", "timestamp": "2025-07-11T12:23:56.0154302+00:00", "timestampMs": "1752236636015", "clientIp": "127.0.0.1"}`},
		{name: "date-time without offset", path: "/v2/auth/challenge", status: 200, header: jsonType, body: `{"challenge": "20250514-CR-226FB7B000-3ACF9BE4C0-10", "timestamp": "2025-07-11T12:23:56.0154302", "timestampMs": 1752236636015, "clientIp": "127.0.0.1"}`},
		{name: "undocumented content type", path: "/v2/auth/challenge", status: 200, header: http.Header{"Content-Type": {"text/plain"}}, body: challenge},
		{name: "undocumented status", path: "/v2/auth/challenge", status: 201, header: jsonType, body: challenge},
		{name: "401 not as problem+json", path: "/v2/sessions/online", status: 401, header: jsonType, body: `{"title": "Unauthorized", "status": 401, "detail": "x", "timestamp": "2025-07-11T12:23:56.0154302+00:00"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, tt.path, nil)
			route, params, err := validateRequest(r)
			if route == nil {
				t.Fatalf("no route for %s: %v", tt.path, err)
			}
			err = validateResponse(r, route, params, tt.status, tt.header, []byte(tt.body))
			if got := err == nil; got != tt.ok {
				t.Errorf("validateResponse = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestAnswerViolations keeps the simulator's wrong answers apart from its clients' wrong requests.
func TestAnswerViolations(t *testing.T) {
	st := Stats{SpecViolationDetails: []string{
		"POST /v2/sessions/online: request body has an error: doesn't match schema",
		"GET /v2/sessions/x: " + answerViolation + "200: response body doesn't match schema",
	}}
	got := st.AnswerViolations()
	if len(got) != 1 || got[0] != st.SpecViolationDetails[1] {
		t.Errorf("AnswerViolations = %q, want only the answer", got)
	}
}
