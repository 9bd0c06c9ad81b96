package agent

import (
	"log/slog"

	"usepod.ai/agent/core/appstate"
)

// earningChoice is the engine's StartPaused and SaveEarning for a data
// folder. A state it cannot read is logged and starts paused.
func earningChoice(dataDir string, log *slog.Logger) (startPaused bool, save func(bool) error) {
	earning, err := appstate.LoadEarning(dataDir)
	if err != nil {
		log.Warn("could not read whether earning was paused; starting paused — press Start to earn", "err", err)
	} else if !earning {
		log.Info("starting paused, as the user left it")
	}
	return !earning, func(on bool) error { return appstate.SaveEarning(dataDir, on) }
}
