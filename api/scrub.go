package api

import "github.com/gofiber/fiber/v2"

// scrubRoutes registers the bulk-scrub routes.
func (s *Server) scrubRoutes(v1 fiber.Router) {}
