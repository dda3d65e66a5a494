// The tests write stand-in executables and run them at once. With test classes in parallel, another thread's
// fork can briefly hold a new script open for writing, and exec then fails with ETXTBSY ("Text file busy").
// The agent never writes what it executes, so only the tests need to run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
