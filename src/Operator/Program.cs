using Gentoo.Connection;
using Gentoo.Operator.Cli;
using Gentoo.Operator.Hosting;

ClientJson.Lock(OperatorJson.Contracts);
return await OperatorCommand.Create().Parse(args).InvokeAsync();
