using System.Text.Json.Serialization;

namespace Gentoo.Protocol;

/// <summary>The agent's report's JSON contract, generated at compile time; <see cref="AgentReport"/>'s options shape it.</summary>
[JsonSerializable(typeof(AgentReport))]
internal sealed partial class ProtocolJson : JsonSerializerContext;
