/** Closed output pipes (kept apart from output.ts, which loads the YAML library, so start-up stays light). */

/**
 * A reader that goes away (`strata describe stacks | head -1`) closes the pipe. What strata still prints has
 * nowhere to go, so it is dropped and the command finishes as it would have (exit code included), without a stack
 * trace for EPIPE. Any other error on the stream stays an error.
 */
export function dropOutputOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') return;
    throw error;
  });
}
