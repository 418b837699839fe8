package api

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"callfilter/filter"
	"callfilter/service"
)

// permission is one thing a route needs a key's role to allow.
type permission uint16

// Permissions.
const (
	permCheck         permission = 1 << iota // POST /v1/check, /v1/check/batch
	permScrub                                // bulk scrubs (POST /v1/scrub, to come)
	permListsRead                            // GET /v1/lists
	permListsWrite                           // POST, DELETE /v1/lists/:list/numbers
	permConsents                             // POST /v1/consents, /v1/consents/revoke
	permRelationships                        // POST /v1/relationships
	permOptOuts                              // POST /v1/optouts
	permSMS                                  // POST /v1/sms/inbound (the JSON form, or Twilio's without a token)
	permRules                                // /v1/rules..., GET /v1/numbers/{number}
	permAudit                                // /v1/audit...
	permKeys                                 // /v1/keys

	permAll = permKeys<<1 - 1
)

var permissionNames = map[permission]string{
	permCheck:         "check numbers",
	permScrub:         "scrub lists",
	permListsRead:     "read lists",
	permListsWrite:    "edit lists",
	permConsents:      "record consents",
	permRelationships: "record relationships",
	permOptOuts:       "record opt-outs",
	permSMS:           "record inbound text messages",
	permRules:         "read or edit the rules, or look numbers up",
	permAudit:         "read the audit trail",
	permKeys:          "manage API keys",
}

// grants is the one table of what each role may do.
var grants = map[filter.Role]permission{
	filter.RoleDialer:   permCheck,
	filter.RoleScrubber: permCheck | permScrub,
	filter.RoleOfficer:  permCheck | permListsRead | permListsWrite | permConsents | permRelationships | permOptOuts | permSMS | permRules | permAudit,
	filter.RoleAdmin:    permAll,
}

// allows reports whether role r has every permission in p.
func allows(r filter.Role, p permission) bool { return grants[r]&p == p }

// localKey is the type of the api package's c.Locals keys.
type localKey int

// guard returns the middleware in front of every /v1 route: it gives the
// request its deadline (fasthttp never cancels a request), authenticates the
// bearer key and checks that its role has permission p.
func (s *Server) guard(p permission) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := s.deadlines.with(c.UserContext(), time.Now())
		defer cancel()

		secret, ok := bearer(c.Get(fiber.HeaderAuthorization))
		if !ok {
			return filter.Errorf(filter.EUnauthorized, "", "an API key is required: send the header \"Authorization: Bearer\" followed by the key")
		}
		// Authenticate keeps nothing of secret (which is Fiber's buffer): it
		// hashes it and looks the hash up.
		key, err := s.svc.Authenticate(ctx, secret)
		if err != nil {
			return err
		}
		ri := info(c)
		ri.key, ri.role = key.Name, key.Role // the service's copies, not Fiber's buffer
		c.SetUserContext(service.WithActor(ctx, key.Name))
		if err := s.limit(c, key.Name); err != nil {
			return err
		}
		if !allows(key.Role, p) {
			return filter.Errorf(filter.EForbidden, "", "a key with role %q may not %s", key.Role, permissionNames[p])
		}
		return c.Next()
	}
}

// bearer returns the token of an "Authorization: Bearer <token>" header; the
// scheme is case-insensitive.
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// keyName returns the authenticated key's name, or "" before authentication.
func keyName(c *fiber.Ctx) string {
	return info(c).key
}
