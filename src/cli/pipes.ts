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

/**
 * Writes the pieces in turn, each once the last has gone out (a pipe does not block the writer, so a large answer
 * would otherwise queue whole in memory). Stops when the reader has gone: the rest has nowhere to go.
 */
export async function writePieces(stream: NodeJS.WriteStream, pieces: Iterable<string>): Promise<void> {
  for (const piece of pieces) {
    if (stream.destroyed || stream.writableEnded) return;
    if (!stream.write(piece)) await drainedOrGone(stream);
  }
}

/** Resolves on 'drain', or when the stream closes or fails (dropOutputOnClosedPipe reports what must be reported). */
function drainedOrGone(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}
