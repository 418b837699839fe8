package api

import "github.com/gofiber/fiber/v2"

// officerRoutes registers the compliance officers' routes: rules, audit,
// number lookup.
func (s *Server) officerRoutes(v1 fiber.Router) {}
