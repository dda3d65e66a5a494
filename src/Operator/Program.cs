using Gentoo.Operator.Cli;

return await OperatorCommand.Create().Parse(args).InvokeAsync();
