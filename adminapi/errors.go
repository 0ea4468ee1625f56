package adminapi

import (
	"errors"
	"log/slog"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/roaming"
)

// apiError is an error with its HTTP status, the single form in which the
// Admin and App APIs report failures: {"error": {"code", "message", "fields"}}.
type apiError struct {
	Status  int
	Code    string
	Message string
	Fields  []fault.Field
	Headers map[string]string
}

func (e *apiError) Error() string { return e.Message }

func badRequest(code, message string, fields ...fault.Field) *apiError {
	return &apiError{Status: fiber.StatusBadRequest, Code: code, Message: message, Fields: fields}
}

func field(path, message string) fault.Field { return fault.Field{Path: path, Message: message} }

var (
	errUnauthorized = &apiError{Status: fiber.StatusUnauthorized, Code: "unauthorized", Message: "valid API account credentials are required (HTTP Basic)",
		Headers: map[string]string{"WWW-Authenticate": `Basic realm="roamnode", charset="UTF-8"`}}
)

func forbidden(message string) *apiError {
	return &apiError{Status: fiber.StatusForbidden, Code: "forbidden", Message: message}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string        `json:"code"`
	Message string        `json:"message"`
	Fields  []fault.Field `json:"fields"`
}

// WriteError is the one mapper from errors to Admin/App API responses:
// domain faults become 400 (403 for forbidden) with field paths, Fiber's
// routing errors keep their status (404 only for unknown routes), and
// anything else is a 500 that is logged and never leaks internals.
func WriteError(c *fiber.Ctx, err error, log *slog.Logger) error {
	var ae *apiError
	var fe *fiber.Error
	var he *roaming.HandshakeError
	switch {
	case errors.As(err, &ae):
	case fault.Is(err, fault.KindForbidden):
		f, _ := fault.As(err)
		ae = &apiError{Status: fiber.StatusForbidden, Code: f.Code, Message: f.Message, Fields: f.Fields}
	case func() bool { _, ok := fault.As(err); return ok }():
		f, _ := fault.As(err)
		ae = &apiError{Status: fiber.StatusBadRequest, Code: f.Code, Message: f.Message, Fields: f.Fields}
	case errors.As(err, &he):
		// A partner's failure is a 502 (the partner, not the request, is at
		// fault) unless it is a plain incompatibility the operator must solve.
		status := fiber.StatusBadGateway
		if he.OCPI == 3002 || he.OCPI == 3003 {
			status = fiber.StatusBadRequest
		}
		ae = &apiError{Status: status, Code: "partner_error", Message: he.Error()}
	case isDataException(err):
		ae = &apiError{Status: fiber.StatusBadRequest, Code: "invalid_value", Message: "a value in the request cannot be stored or compared (e.g. a NUL character)"}
	case errors.As(err, &fe):
		code := map[int]string{404: "not_found", 405: "method_not_allowed", 413: "body_too_large", 429: "rate_limited"}[fe.Code]
		if code == "" {
			code = "http_error"
		}
		ae = &apiError{Status: fe.Code, Code: code, Message: fe.Message}
		if fe.Code >= 500 {
			log.Error("request failed", "path", c.Path(), "err", err)
			ae.Message = "internal error"
		}
	default:
		log.Error("request failed", "method", c.Method(), "path", c.Path(), "err", err)
		ae = &apiError{Status: fiber.StatusInternalServerError, Code: "internal", Message: "internal error; the request was not applied"}
	}
	for k, v := range ae.Headers {
		c.Set(k, v)
	}
	if ae.Fields == nil {
		ae.Fields = []fault.Field{}
	}
	return c.Status(ae.Status).JSON(errorBody{Error: errorDetail{Code: ae.Code, Message: ae.Message, Fields: ae.Fields}})
}

// isDataException reports a Postgres data exception (SQLSTATE class 22):
// the request carried a value Postgres refuses, such as a NUL byte in a
// filter — the client's fault, never a 500.
func isDataException(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && len(pe.Code) == 5 && pe.Code[:2] == "22"
}
