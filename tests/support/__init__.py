"""What the tests of every tier share: a scripted engine, the fake hub, a stub OpenAI server, the
`duet` subprocess runner and Pilot waits. Nothing here is a test."""
