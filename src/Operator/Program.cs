using Gentoo.Connection;
using Gentoo.Operator.Cli;

ClientJson.Lock();
return await OperatorCommand.Create().Parse(args).InvokeAsync();
