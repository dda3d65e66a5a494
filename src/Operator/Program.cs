using Gentoo.Connection;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Cli;

ClientJson.Lock(EntityJson.Default);
return await OperatorCommand.Create().Parse(args).InvokeAsync();
