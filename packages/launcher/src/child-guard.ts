/**
 * Preloaded into every child (`node --import`): when the launcher goes away without stopping its
 * children (kill -9, a crash), the IPC channel closes and the child shuts down gracefully as on
 * SIGTERM, so no service outlives the launcher as an orphan.
 */
if (process.channel) {
  // The channel must not keep a child alive that has finished its own shutdown.
  process.channel.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
