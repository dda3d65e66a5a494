namespace Gentoo.Operator.Hosting;

/// <summary>The operator cannot start; the message is one line that says why and what to do.</summary>
public sealed class StartupException(string message, Exception? inner = null) : Exception(message, inner);
