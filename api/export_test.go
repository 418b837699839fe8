package api

import "context"

// RunScrubJob runs the scrub job id on the caller's goroutine as the job
// runner does, for tests of what a second run of one job does.
func RunScrubJob(s *Server, id string) { s.jobs.runOne(context.Background(), id) }
