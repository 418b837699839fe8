package api

import "github.com/gofiber/fiber/v2"

// smsRoutes registers the SMS gateways' inbound-message webhook.
func (s *Server) smsRoutes(v1 fiber.Router) {}
