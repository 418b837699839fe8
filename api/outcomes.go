package api

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"callfilter/service"
)

// outcomeRoutes registers the call outcomes dialers report. Checking numbers
// is what a dialer may do; reporting how its calls ended goes with it.
func (s *Server) outcomeRoutes(v1 fiber.Router) {
	v1.Post("/outcomes", s.guard(permCheck), s.recordOutcome)
}

// outcomeRequest is the body of POST /v1/outcomes.
type outcomeRequest struct {
	Number  string `json:"number"`
	Region  string `json:"region"`
	Seller  string `json:"seller"`
	Purpose string `json:"purpose"`
	Channel string `json:"channel"`
	// Outcome is answered, no_answer, busy, refused or opted_out.
	Outcome string `json:"outcome"`
	At      string `json:"at"`
}

type outcomeResponse struct {
	Status string `json:"status"`
	// Listed and Revoked report the opt-out a refused or opted_out outcome is.
	Listed  bool `json:"listed"`
	Revoked int  `json:"revoked"`
}

func (s *Server) recordOutcome(c *fiber.Ctx) error {
	var req outcomeRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	at, err := parseTime("at", req.At)
	if err != nil {
		return err
	}
	res, err := s.svc.RecordOutcome(c.UserContext(), service.OutcomeInput{
		Number: req.Number, Region: req.Region, Seller: req.Seller, Purpose: req.Purpose,
		Channel: req.Channel, Outcome: req.Outcome, At: at,
	})
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(outcomeResponse{Status: "recorded", Listed: res.Listed, Revoked: res.Revoked})
}
