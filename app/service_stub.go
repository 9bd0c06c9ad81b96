package app

import (
	"context"
	"errors"
)

func cmdService(ctx context.Context, c *cli, args []string) int {
	return c.usageError(errors.New("service: not available yet"))
}
