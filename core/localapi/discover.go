package localapi

import (
	"context"
	"os"
	"time"
)

// ServiceAPIEnv names where the system service's local API is, for a
// service installed with its own --api (and for tests).
const ServiceAPIEnv = "USEPOD_SERVICE_API"

// ServiceAddressFromEnv is where the system service's local API is
// expected: $USEPOD_SERVICE_API, else ServiceAddress.
func ServiceAddressFromEnv() string {
	if addr := os.Getenv(ServiceAPIEnv); addr != "" {
		return addr
	}
	return ServiceAddress()
}

// Find is the address a command talks to: explicit when given; else the
// user's own agent (user) when it answers or when ownOnly says the user
// chose their own agent (--data-dir); else the system service when it
// answers; else user, where nothing answers yet.
func Find(explicit, user string, ownOnly bool) string {
	if explicit != "" {
		return explicit
	}
	if ownOnly || Answers(user) {
		return user
	}
	if svc := ServiceAddressFromEnv(); Answers(svc) {
		return svc
	}
	return user
}

// Answers reports whether an agent listens at addr. It waits at most a
// second.
func Answers(addr string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	conn, err := Dial(ctx, addr)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}
